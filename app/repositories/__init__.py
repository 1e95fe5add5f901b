"""Every query and write of the app lives here, one module per aggregate."""
