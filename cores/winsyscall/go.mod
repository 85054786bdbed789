module example.com/winsyscall

go 1.19
