/* tt_darknet_train - a tiny darknet training program, written against
 * Debian's libdarknet.so the way a user would (tests/e2e/adapter_darknet.sh).
 *
 * Usage: tt_darknet_train [CFG [WEIGHTS]]   (default tiny.cfg, tiny.weights)
 * Writes CFG (a small conv net: [net] with a steps policy, convolutional
 * with batch norm, maxpool, dropout, connected, softmax), makes a 2-class
 * data set of 16 4x4 images in memory, trains with train_network until
 * max_batches, printing each step the way darknet's examples do
 * ("%ld: %f, %f avg, %f rate, %ld images"; no timings, so the output is
 * reproducible), saves WEIGHTS and frees the network.
 *
 * Built only with the darknet adapter (tests/CMakeLists.txt). */
#include <darknet.h>
#include <stdio.h>
#include <stdlib.h>

static const char cfg_text[] =
    "[net]\n"
    "batch=8\n"
    "subdivisions=1\n"
    "width=4\n"
    "height=4\n"
    "channels=1\n"
    "learning_rate=0.1\n"
    "momentum=0.9\n"
    "decay=0.0005\n"
    "policy=steps\n"
    "steps=10,15\n"
    "scales=.1,.5\n"
    "max_batches=20\n"
    "\n"
    "[convolutional]\n"
    "batch_normalize=1\n"
    "filters=4\n"
    "size=3\n"
    "stride=1\n"
    "pad=1\n"
    "activation=leaky\n"
    "\n"
    "[maxpool]\n"
    "size=2\n"
    "stride=2\n"
    "\n"
    "[dropout]\n"
    "probability=.25\n"
    "\n"
    "[connected]\n"
    "output=2\n"
    "activation=linear\n"
    "\n"
    "[softmax]\n"
    "groups=1\n";

int main(int argc, char **argv)
{
    char *cfg = argc > 1 ? argv[1] : "tiny.cfg";
    char *weights = argc > 2 ? argv[2] : "tiny.weights";
    FILE *f = fopen(cfg, "w");
    if (!f || fputs(cfg_text, f) == EOF || fclose(f) != 0) {
        perror(cfg);
        return 1;
    }
    network *net = parse_network_cfg(cfg);
    if (!net)
        return 1;

    /* 16 images 4x4: class 0 if the left half is brighter, else class 1 */
    int rows = 16, cols = 16;
    data d = {0};
    d.X = make_matrix(rows, cols);
    d.y = make_matrix(rows, 2);
    srand(7);
    for (int i = 0; i < rows; i++) {
        float left = 0, right = 0;
        for (int j = 0; j < cols; j++) {
            float v = (float)rand() / (float)RAND_MAX;
            d.X.vals[i][j] = v;
            if (j % 4 < 2)
                left += v;
            else
                right += v;
        }
        d.y.vals[i][left > right ? 0 : 1] = 1;
    }

    float avg_loss = -1;
    while (get_current_batch(net) < (size_t)net->max_batches) {
        float loss = train_network(net, d);
        if (avg_loss < 0)
            avg_loss = loss;
        avg_loss = avg_loss * .9f + loss * .1f;
        printf("%ld: %f, %f avg, %f rate, %ld images\n", (long)get_current_batch(net), loss, avg_loss,
               get_current_rate(net), (long)(get_current_batch(net) * net->batch));
    }
    save_weights(net, weights);
    free_data(d);
    free_network(net);
    return 0;
}
