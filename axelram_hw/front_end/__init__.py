"""The front end shared by keys and queries: the sign ROM and the sign-flip + FWHT rotation."""
