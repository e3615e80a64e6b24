def test_clean():
    pass
