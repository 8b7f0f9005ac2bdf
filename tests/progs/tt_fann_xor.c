/* tt_fann_xor - trains XOR with libfann as a user would; used by
 * tests/e2e/adapter_fann.sh.
 *
 *   tt_fann_xor [--mode epochs|ondata] [--epochs N] [--algo FANN_TRAIN_*]
 *               [--hidden FANN_* activation] [--output FANN_* activation]
 *               [--lr X] [--save PATH]
 *
 * Data is built in memory (fann_create_train_from_callback). Prints
 * "epoch E mse M" after every epoch it runs itself (mode epochs), then
 * "final mse M" (fann_get_MSE), "test mse M" (fann_test_data on the same
 * four rows) and "saved PATH". Numbers are %.17g of the float widened to
 * double, so a test can compare them exactly. Weights are seeded (srand) so
 * the output is the same on every run. */
#include <floatfann.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void xor_row(unsigned num, unsigned ni, unsigned no, fann_type *in, fann_type *out)
{
    (void)ni;
    (void)no;
    in[0] = (num & 1) ? 1 : -1;
    in[1] = (num & 2) ? 1 : -1;
    out[0] = ((num & 1) ^ ((num & 2) >> 1)) ? 1 : -1;
}

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    fprintf(stderr, "unknown name %s\n", s);
    exit(2);
}

#define LOOKUP(tab, s) lookup(tab, (int)(sizeof tab / sizeof tab[0]), s)

int main(int argc, char **argv)
{
    const char *mode = "epochs", *save = NULL;
    int epochs = 20, algo = FANN_TRAIN_RPROP;
    int hidden = FANN_SIGMOID_SYMMETRIC, output = FANN_SIGMOID_SYMMETRIC;
    float lr = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--mode"))
            mode = argv[i + 1];
        else if (!strcmp(argv[i], "--epochs"))
            epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--algo"))
            algo = LOOKUP(FANN_TRAIN_NAMES, argv[i + 1]);
        else if (!strcmp(argv[i], "--hidden"))
            hidden = LOOKUP(FANN_ACTIVATIONFUNC_NAMES, argv[i + 1]);
        else if (!strcmp(argv[i], "--output"))
            output = LOOKUP(FANN_ACTIVATIONFUNC_NAMES, argv[i + 1]);
        else if (!strcmp(argv[i], "--lr"))
            lr = strtof(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--save"))
            save = argv[i + 1];
    }

    struct fann *ann = fann_create_standard(3, 2, 3, 1);
    srand(7);
    fann_randomize_weights(ann, -0.5f, 0.5f);
    fann_set_training_algorithm(ann, (enum fann_train_enum)algo);
    fann_set_activation_function_hidden(ann, (enum fann_activationfunc_enum)hidden);
    fann_set_activation_function_output(ann, (enum fann_activationfunc_enum)output);
    fann_set_activation_steepness_hidden(ann, 0.75f);
    fann_set_learning_momentum(ann, 0.25f);
    if (lr >= 0)
        fann_set_learning_rate(ann, lr);
    fann_set_bit_fail_limit(ann, 0.35f);
    fann_set_train_stop_function(ann, FANN_STOPFUNC_BIT);

    struct fann_train_data *data = fann_create_train_from_callback(4, 2, 1, xor_row);
    if (!strcmp(mode, "ondata")) {
        /* desired error 0 with the BIT stop function: runs all epochs
         * unless every output is within the bit-fail limit */
        fann_train_on_data(ann, data, (unsigned)epochs, 0, 0.0f);
    } else {
        for (int e = 1; e <= epochs; e++) {
            fann_train_epoch(ann, data);
            printf("epoch %d mse %.17g\n", e, (double)fann_get_MSE(ann));
        }
    }
    printf("final mse %.17g\n", (double)fann_get_MSE(ann));
    printf("test mse %.17g\n", (double)fann_test_data(ann, data));
    if (save) {
        if (fann_save(ann, save) != 0)
            return 1;
        printf("saved %s\n", save);
    }
    fann_destroy_train(data);
    fann_destroy(ann);
    return 0;
}
