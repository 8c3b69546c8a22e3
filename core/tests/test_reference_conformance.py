"""The reference engine passes the conformance kit: proof the kit works end to end."""



from voicebox_core.testing import ConformanceSuite




class TestReferenceConformance(ConformanceSuite):
    engine = "reference"
    model_libraries = ("voicebox_test_reference.backend",)


class TestReference24kConformance(ConformanceSuite):
    engine = "reference"
    model = "reference-24k"
