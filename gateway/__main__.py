from gateway.fronts.cli.main import main

main()
