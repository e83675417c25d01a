from mijabench.cli import main

main()
