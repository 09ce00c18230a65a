"""Files: atomic writes and the one JSON cleaner (``jsonio``), weight and run files (``weight_files``,
``simulation_files``), labelled results as xarray/netCDF/pandas (``labelled``)."""
