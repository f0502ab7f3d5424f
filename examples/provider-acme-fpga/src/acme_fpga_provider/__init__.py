"""A wheelnext variant provider for (fictional) Acme FPGA boards: the worked example of
``spec/writing-a-provider.md``."""
