"""PEP 751 lock files (``pylock.toml``) with PEP 825 variant wheels: the model, writing
(``wn lock``), reading hostile files, and installing from them without resolving."""
