"""Private foundations shared by every layer: input validators (``checks``) and progress bars (``progress``)."""
