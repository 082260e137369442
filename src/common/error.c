/* Error codes and their messages, generated from the one table in error.h. */
#include "weft/error.h"

const char *weft_strerror(int err)
{
    switch (err) {
#define WEFT_ERR_MSG_(name, value, msg)                                                            \
    case value:                                                                                    \
        return msg;
        WEFT_ERRNO_MAP(WEFT_ERR_MSG_)
#undef WEFT_ERR_MSG_
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

const char *weft_err_name(int err)
{
    switch (err) {
#define WEFT_ERR_NAME_(name, value, msg)                                                           \
    case value:                                                                                    \
        return "WEFT_" #name;
        WEFT_ERRNO_MAP(WEFT_ERR_NAME_)
#undef WEFT_ERR_NAME_
    case 0:
        return "WEFT_OK";
    default:
        return "WEFT_EUNKNOWN";
    }
}

int weft_err_from_errno(int errnum)
{
    /* Weft's own codes live far below any errno value; keep them apart. */
    if (errnum <= 0 || errnum >= 4000)
        return WEFT_EIO;
    switch (-errnum) {
#define WEFT_ERR_KNOWN_(name, value, msg)                                                          \
    case value:                                                                                    \
        return value;
        WEFT_ERRNO_MAP(WEFT_ERR_KNOWN_)
#undef WEFT_ERR_KNOWN_
    default:
        return WEFT_EIO;
    }
}
