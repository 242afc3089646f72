"""I/O adapters: the only code that reads capture files and hands their bytes to the sans-IO wire engine."""
