from orchestration.ingest.textfile import decode, header_fields, record_start_lines


def test_record_lines_skip_blank_lines_and_respect_quoted_newlines():
    data = b'a,b\n1,x\n\n2,"y\nz"\n3,w\r\n\r\n4,v'
    # header on line 1; records start on lines 2, 4, 6 and 8 (line 3 and 7 are blank)
    assert record_start_lines(data).tolist() == [1, 2, 4, 6, 8]


def test_record_lines_of_empty_file():
    assert record_start_lines(b"").tolist() == []


def test_decode_strips_bom_and_transcodes_windows_1252():
    assert decode(b"\xef\xbb\xbfa,b\n").text_bytes == b"a,b\n"
    cp = decode("surname\nO\u2019Brien\n".encode("cp1252"))
    assert cp.encoding == "cp1252"
    assert cp.text_bytes.decode("utf-8") == "surname\nO\u2019Brien\n"


def test_header_fields_trimmed_and_first_non_blank_record():
    assert header_fields(b'\n "a" , b ,"c,d"\n1,2,3\n') == ["a", "b", "c,d"]
