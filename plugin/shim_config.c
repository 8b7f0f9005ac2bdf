/* Temporary: replaced by the shim's configuration module. */
int tt_shim_config_placeholder;
