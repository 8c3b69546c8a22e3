class PlantedBackend:
    pass
