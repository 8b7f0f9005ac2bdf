/* Temporary: replaced by the real hooks. */
int tt_shim_placeholder;
