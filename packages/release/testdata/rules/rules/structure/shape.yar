/* A regular expression rule, and a rule built on a private helper. */

rule gh_test_regex_gamma
{
    strings:
        $re = /gh-gamma-[0-9]{4}-end/
    condition:
        $re
}

private rule gh_small_file
{
    condition:
        filesize < 64
}

rule gh_test_header_delta
{
    condition:
        gh_small_file and uint32be(0) == 0x474C5444 // "GLTD"
}
