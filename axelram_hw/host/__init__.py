"""The host side of the link: the device driver and the Python reference device."""
