module example.com/cgoscenarios

go 1.19
