from kubectl_ascend.cli import main

main()
