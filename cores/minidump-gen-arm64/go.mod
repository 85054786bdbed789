module example.com/minidump-gen-arm64

go 1.19
