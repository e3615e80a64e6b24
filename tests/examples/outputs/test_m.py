def test_writes_a_marker():
    open("ran.txt", "w").close()
