// C side of the cgo fixture program (cfuncs.c), called from main.go.
#ifndef CGO_SCENARIOS_CFUNCS_H
#define CGO_SCENARIOS_CFUNCS_H

int c_crash_entry(int depth);
int c_blocked_count(void);
void c_block_sleep(void);
void c_block_read(void);
void c_block_usleep(void);
int c_call_back(int n);

#endif
