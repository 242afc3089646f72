/*
 * an_tables.c: names (chunk types, error causes, observer states), chunk slots, and the observer state machine.
 *
 * Observer state machine: SC_FSM below, a table state x chunk class -> state applied to each chunk in order.
 * Every cell is defined, so an unexpected chunk leaves the state alone; nothing else changes `state`.
 * (The table is applied in analyze.c's on_chunks; the chunk classes are in an_internal.h.)
 */
#include "an_internal.h"

/* ------------------------------------------------------------------------------------------------ */
/* Names and slots                                                                                   */
/* ------------------------------------------------------------------------------------------------ */

const uint8_t sc_slot_type[SC_NSLOTS - 1] = {
    SC_DATA, SC_INIT, SC_INIT_ACK, SC_SACK, SC_HEARTBEAT, SC_HEARTBEAT_ACK, SC_ABORT, SC_SHUTDOWN,
    SC_SHUTDOWN_ACK, SC_ERROR, SC_COOKIE_ECHO, SC_COOKIE_ACK, SC_ECNE, SC_CWR, SC_SHUTDOWN_COMPLETE, SC_AUTH,
    SC_NR_SACK, SC_I_DATA, SC_ASCONF_ACK, SC_RE_CONFIG, SC_PAD, SC_FORWARD_TSN, SC_ASCONF, SC_I_FORWARD_TSN,
};

unsigned sc_slot_of(unsigned type)
{
    if (type <= SC_NR_SACK)
        return type; /* types 0..16 are slots 0..16 */
    switch (type) {
    case SC_I_DATA: return 17;
    case SC_ASCONF_ACK: return 18;
    case SC_RE_CONFIG: return 19;
    case SC_PAD: return 20;
    case SC_FORWARD_TSN: return 21;
    case SC_ASCONF: return 22;
    case SC_I_FORWARD_TSN: return 23;
    default: return SC_SLOT_UNKNOWN;
    }
}

static const char *const SLOT_NAMES[SC_NSLOTS - 1] = {
    "DATA", "INIT", "INIT-ACK", "SACK", "HEARTBEAT", "HEARTBEAT-ACK", "ABORT", "SHUTDOWN", "SHUTDOWN-ACK",
    "ERROR", "COOKIE-ECHO", "COOKIE-ACK", "ECNE", "CWR", "SHUTDOWN-COMPLETE", "AUTH", "NR-SACK", "I-DATA",
    "ASCONF-ACK", "RE-CONFIG", "PAD", "FORWARD-TSN", "ASCONF", "I-FORWARD-TSN",
};

const char *sc_chunk_name(unsigned type)
{
    unsigned s = sc_slot_of(type & 0xff);
    return s == SC_SLOT_UNKNOWN || type > 255 ? NULL : SLOT_NAMES[s];
}

const char *sc_cause_name(unsigned code)
{
    switch (code) {
    case 1: return "Invalid Stream Identifier";
    case 2: return "Missing Mandatory Parameter";
    case 3: return "Stale Cookie Error";
    case 4: return "Out of Resource";
    case 5: return "Unresolvable Address";
    case 6: return "Unrecognized Chunk Type";
    case 7: return "Invalid Mandatory Parameter";
    case 8: return "Unrecognized Parameters";
    case 9: return "No User Data";
    case 10: return "Cookie Received While Shutting Down";
    case 11: return "Restart of an Association with New Addresses";
    case 12: return "User-Initiated Abort";
    case 13: return "Protocol Violation";
    case 160: return "Request to Delete Last Remaining IP Address";
    case 161: return "Operation Refused Due to Resource Shortage";
    case 162: return "Request to Delete Source IP Address";
    case 163: return "Association Aborted Due to Illegal ASCONF-ACK";
    case 164: return "Request Refused - No Authorization";
    case 261: return "Unsupported HMAC Identifier";
    default: return NULL;
    }
}

static const char *const STATE_NAMES[SC_ST_COUNT] = {
    NULL, "COOKIE-WAIT", "COOKIE-ECHOED", "ESTABLISHED", "SHUTDOWN-PENDING", "SHUTDOWN-SENT",
    "SHUTDOWN-ACK-SENT", "CLOSED", "ABORTED",
};

const char *sc_state_name(unsigned st) { return st < SC_ST_COUNT ? STATE_NAMES[st] : NULL; }

/* ------------------------------------------------------------------------------------------------ */
/* The observer state machine                                                                        */
/* ------------------------------------------------------------------------------------------------ */

/*
 * The observer state machine, in one place: SC_FSM[state][chunk class] -> next state.
 * It tracks what the wire shows, not either endpoint's internal state: "SHUTDOWN-SENT" means a SHUTDOWN was
 * seen, "SHUTDOWN-ACK-SENT" a SHUTDOWN-ACK. A new association starts in NONE and its first chunk places it
 * (a capture that starts mid-association lands in ESTABLISHED or wherever the first chunk says).
 * DATA stays in COOKIE-ECHOED because RFC 9260 §5.1 lets DATA be bundled after the COOKIE-ECHO.
 */
#define NO SC_ST_NONE
#define CW SC_ST_COOKIE_WAIT
#define CE SC_ST_COOKIE_ECHOED
#define ES SC_ST_ESTABLISHED
#define SP SC_ST_SHUTDOWN_PENDING
#define SS SC_ST_SHUTDOWN_SENT
#define SA SC_ST_SHUTDOWN_ACK_SENT
#define CL SC_ST_CLOSED
#define AB SC_ST_ABORTED
const uint8_t SC_FSM[SC_ST_COUNT][K_COUNT] = {
    /*          INIT INIT-ACK CECHO CACK DATA SACK HB  SD  SDA SDC ABORT OTHER */
    [NO] = {    CW,  CW,      CE,   ES,  ES,  ES,  ES, SS, SA, CL, AB,   ES },
    [CW] = {    CW,  CW,      CE,   ES,  ES,  ES,  ES, SS, SA, CL, AB,   CW },
    [CE] = {    CE,  CE,      CE,   ES,  CE,  ES,  ES, SS, SA, CL, AB,   CE },
    [ES] = {    ES,  ES,      ES,   ES,  ES,  ES,  ES, SS, SA, CL, AB,   ES },
    [SP] = {    SP,  SP,      SP,   SP,  SP,  SP,  SP, SS, SA, CL, AB,   SP },
    [SS] = {    SS,  SS,      SS,   SS,  SS,  SS,  SS, SS, SA, CL, AB,   SS },
    [SA] = {    SA,  SA,      SA,   SA,  SA,  SA,  SA, SA, SA, CL, AB,   SA },
    [CL] = {    CL,  CL,      CL,   CL,  CL,  CL,  CL, CL, CL, CL, CL,   CL },
    [AB] = {    AB,  AB,      AB,   AB,  AB,  AB,  AB, AB, AB, AB, AB,   AB },
};
#undef NO
#undef CW
#undef CE
#undef ES
#undef SP
#undef SS
#undef SA
#undef CL
#undef AB
