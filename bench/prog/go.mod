module example.com/bench100k

go 1.19
