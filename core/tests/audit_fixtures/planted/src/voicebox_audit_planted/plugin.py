ENGINE = dict(name="planted", backend="voicebox_audit_planted.backend:PlantedBackend")
