ENGINE = dict(name="lazy", backend="voicebox_audit_lazyplugin.backend:LazyBackend")
