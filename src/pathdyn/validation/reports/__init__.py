"""Reports as files, labelled data and figures: the I/O of the validation layer."""
