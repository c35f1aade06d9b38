// Harmless test rules: each matches a made-up marker, never real malware.

rule gh_test_marker_alpha
{
    meta:
        description = "a plain text marker"
    strings:
        $marker = "GLASSHOUSE-TEST-ALPHA"
    condition:
        $marker
}

rule gh_test_hex_beta : test
{
    strings:
        // bytes DE AD BE EF, any byte, then "GH"
        $bytes = { DE AD BE EF ?? 47 48 }
    condition:
        $bytes
}
