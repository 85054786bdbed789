module example.com/varsbench

go 1.19
