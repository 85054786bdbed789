/*
 * bcryptprimitives.dll for wine 8.0, which lacks it: Go 1.21+ loads it at start for
 * ProcessPrng and dies without it. ProcessPrng over RtlGenRandom (advapi32's
 * SystemFunction036), which wine has. Only for the fixture generator's wine prefix
 * (cores/generate-minidumps-windows.sh); never part of a fixture.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!SystemFunction036(data, n)) return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
