class LazyBackend:
    def load(self):
        from voicebox_audit_lazylib import TinyModel
        return TinyModel()
