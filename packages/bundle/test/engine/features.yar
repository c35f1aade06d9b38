// Engine contract: one rule per YARA feature the rule sets use. Harmless
// made-up markers only. Every public rule's expected matches are listed in
// features.json; a global rule gates the whole file on the file size.

global rule gate_small_files
{
    condition:
        filesize < 64KB
}

rule text_plain
{
    strings:
        $a = "plain-marker"
    condition:
        $a
}

rule text_nocase
{
    strings:
        $a = "NoCaseMarker" nocase
    condition:
        $a
}

rule text_wide
{
    strings:
        $a = "WideOnly" wide
    condition:
        $a
}

rule text_wide_ascii
{
    strings:
        $a = "EitherWay" wide ascii
    condition:
        $a
}

rule text_fullword
{
    strings:
        $a = "lonely" fullword
    condition:
        $a
}

rule regex_digits
{
    strings:
        $a = /re-[0-9]{4}-end/
    condition:
        $a
}

rule regex_nocase
{
    strings:
        $a = /caseless-(one|two)/i
    condition:
        $a
}

rule hex_plain
{
    strings:
        $a = { 13 37 C0 DE }
    condition:
        $a
}

rule hex_wildcard
{
    strings:
        $a = { DE AD ?? EF }
    condition:
        $a
}

rule hex_nibble
{
    strings:
        $a = { 5A A? ?7 5A }
    condition:
        $a
}

rule hex_jump
{
    strings:
        $a = { CA FE [2-4] BA BE }
    condition:
        $a
}

rule hex_alternative
{
    strings:
        $a = { 0A 0B ( 0C | 1C 2C ) 0D }
    condition:
        $a
}

rule xor_single_byte
{
    strings:
        $a = "xor-hidden" xor
    condition:
        $a
}

rule xor_range
{
    strings:
        $a = "xor-ranged" xor(1-3)
    condition:
        $a
}

rule base64_text
{
    strings:
        $a = "base64-hidden" base64
    condition:
        $a
}

rule header_uint16
{
    condition:
        uint16(0) == 0x5A4D
}

rule header_uint32be
{
    condition:
        filesize >= 4 and uint32be(0) == 0x7F454C46
}

rule count_at_least_three
{
    strings:
        $a = "tick;"
    condition:
        #a >= 3
}

rule offset_at
{
    strings:
        $a = "AT-SIXTEEN"
    condition:
        $a at 16
}

rule offset_in_range
{
    strings:
        $a = "EARLY-BIRD"
    condition:
        $a in (0..31)
}

rule second_occurrence_offset
{
    strings:
        $a = "pair!"
    condition:
        @a[2] == @a[1] + 10
}

rule any_of_set
{
    strings:
        $x1 = "alpha-one"
        $x2 = "alpha-two"
        $x3 = "alpha-three"
    condition:
        any of ($x*)
}

rule two_of_list
{
    strings:
        $y1 = "beta-one"
        $y2 = "beta-two"
        $y3 = "beta-three"
    condition:
        2 of ($y1, $y2, $y3)
}

rule all_of_them_rule
{
    strings:
        $a = "gamma-one"
        $b = "gamma-two"
    condition:
        all of them
}

rule negated_string
{
    strings:
        $want = "delta-want"
        $veto = "delta-veto"
    condition:
        $want and not $veto
}

private rule private_helper
{
    strings:
        $a = "epsilon-private"
    condition:
        $a
}

rule uses_private
{
    strings:
        $a = "epsilon-public"
    condition:
        $a and private_helper
}

rule tagged : tag_one tag_two
{
    meta:
        description = "carries two tags"
    strings:
        $a = "zeta-tagged"
    condition:
        $a
}

rule for_any_at_start
{
    strings:
        $s1 = "START-A"
        $s2 = "START-B"
    condition:
        for any of ($s*) : ( $ at 0 )
}

rule filesize_exact
{
    condition:
        filesize == 7
}
