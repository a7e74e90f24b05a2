/* Client-side reads of libssh's private session struct (see pylibssh_server.c for why and how
 * the private headers are used; without them the answer is "unknown").
 *
 * ssh_message_get() polls the socket when nothing is queued; the client takes queued channel
 * opens after every poll of a busy session, so it first asks whether any are queued.
 * This file must not include Python.h (libssh's config.h and pyconfig.h clash). */
#include <stddef.h>
#include <stdint.h>
#include <libssh/libssh.h>

#include "pylibssh_glue.h"

#ifdef PYLIBSSH_PRIVATE_HEADERS
#include "config.h" /* libssh's generated configuration: priv.h needs it */
#include <libssh/priv.h>
#include <libssh/session.h>
#include <libssh/misc.h>

int pylibssh_session_has_messages(ssh_session session)
{
    if (session == NULL) {
        return -1;
    }
    return session->ssh_message_list != NULL && session->ssh_message_list->root != NULL;
}

#else /* !PYLIBSSH_PRIVATE_HEADERS */

int pylibssh_session_has_messages(ssh_session session)
{
    (void)session;
    return -1;
}

#endif
