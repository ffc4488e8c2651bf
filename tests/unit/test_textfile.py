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


def test_streaming_scan_counts_lines_as_a_whole_read_would(tmp_path, monkeypatch):
    import orchestration.ingest.textfile as textfile
    from orchestration.ingest.textfile import line_count_if_simple, scan_plain_utf8

    monkeypatch.setattr(textfile, "SCAN_CHUNK", 8)  # blocks far smaller than the files: edges everywhere
    cases = [
        b"a,b\n1,2\n3,4\n",
        b"a,b\n1,2\n3,4",  # no newline at the end
        b"a,b\r\n1,2\r\n3,4\r\n",  # Windows line ends
        b"a,b\r1,2\r3,4\r",  # old Mac line ends: lines cannot be counted by newlines
        b"a,b\n1,2\r\n3,4\n",  # mixed, still one record a line
        "name\nZo\u00eb\nJos\u00e9\n\u0141ucja\n".encode(),  # UTF-8 characters split across blocks
        b"a,b\n1,2\n12345678",  # a size that is a multiple of the block size
    ]
    for data in cases:
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        scanned = scan_plain_utf8(path)
        assert scanned is not None, data
        assert scanned.lines == line_count_if_simple(data), data


def test_streaming_scan_leaves_other_encodings_to_a_whole_read(tmp_path):
    from orchestration.ingest.textfile import scan_plain_utf8

    for data in (
        b"\xef\xbb\xbfa,b\n1,2\n",  # UTF-8 with a byte-order mark
        "a,b\n1,2\n".encode("utf-16"),
        "surname\nO\u2019Brien\n".encode("cp1252"),  # not UTF-8
        "name\nZo\u00eb".encode()[:-1],  # UTF-8 cut off in the middle of a character
    ):
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        assert scan_plain_utf8(path) is None, data


def test_archive_copy_is_hashed_as_written(tmp_path, monkeypatch):
    import hashlib

    import orchestration.ingest.archive as archive

    monkeypatch.setattr(archive, "COPY_BLOCK", 1000)  # many blocks in flight, hashed in order
    source = tmp_path / "delivery.csv"
    source.write_bytes(b"".join(f"{i},{i * i}\n".encode() for i in range(50_000)))
    sha, partial = archive._copy_and_hash(source, tmp_path / "archive")
    assert partial.read_bytes() == source.read_bytes()
    assert sha == hashlib.sha256(source.read_bytes()).hexdigest()
