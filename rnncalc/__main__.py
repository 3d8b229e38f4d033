from rnncalc.cli import main

main()
