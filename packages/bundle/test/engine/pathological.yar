// A rule whose condition is quadratic in the file size: on 1 MiB of zeros it
// would run for hours. The engine's timeout must stop it.
rule runaway_loop
{
    condition:
        for all i in (0..filesize - 1) : (
            for all j in (0..filesize - 1) : ( uint8(j) != 0xFF )
        )
}
