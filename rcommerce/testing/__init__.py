"""Test support for rcommerce and its plugin authors: a live server and a client that
speaks both transports with one interface."""
