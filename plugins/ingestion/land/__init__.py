"""Landing: Arrow batches to files in the lake (ADLS Gen2 / Blob through WasbHook), parts and a manifest."""
