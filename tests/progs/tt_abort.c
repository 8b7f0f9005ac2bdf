/* tt_abort - dies by SIGABRT via abort(). For the "crashed, signal 6" status. */
#include <stdlib.h>

int main(void)
{
    abort();
}
