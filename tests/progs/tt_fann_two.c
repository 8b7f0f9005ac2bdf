/* tt_fann_two DIR - trains two networks in one process with libfann; used by
 * tests/e2e/adapter_fann.sh.
 *
 * Network A: a shortcut network 2-2-1 trained by fann_train_on_file on
 * DIR/xor.data (written here in FANN's text format), QUICKPROP, linear
 * error function, 30 epochs; prints "A final mse M".
 * Network B: a standard network 2-4-3-1 (not sparse: a sparse network's
 * connections are drawn with a seed FANN takes from /dev/urandom, so its
 * output would differ run to run), incremental training, one hidden neuron made FANN_LINEAR with the per-neuron setter,
 * trained by fann_train_epoch for 6 epochs with learning rate 0.5, then 4
 * with 0.25; prints "B epoch E mse M", "B test mse M" and saves DIR/b.net.
 * Numbers are %.17g of the float widened to double. */
#include <floatfann.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tt_fann_two DIR\n");
        return 2;
    }
    char path[4096], model[4096];
    snprintf(path, sizeof path, "%s/xor.data", argv[1]);
    snprintf(model, sizeof model, "%s/b.net", argv[1]);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "4 2 1\n-1 -1\n-1\n-1 1\n1\n1 -1\n1\n1 1\n-1\n");
    fclose(f);

    struct fann *a = fann_create_shortcut(3, 2, 2, 1);
    srand(11);
    fann_randomize_weights(a, -0.5f, 0.5f);
    fann_set_training_algorithm(a, FANN_TRAIN_QUICKPROP);
    fann_set_train_error_function(a, FANN_ERRORFUNC_LINEAR);
    fann_set_activation_function_hidden(a, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(a, FANN_LINEAR_PIECE_SYMMETRIC);
    fann_set_quickprop_mu(a, 1.5f);
    fann_train_on_file(a, path, 30, 0, 0.0f);
    printf("A final mse %.17g\n", (double)fann_get_MSE(a));

    struct fann *b = fann_create_standard(4, 2, 4, 3, 1);
    srand(12);
    fann_randomize_weights(b, -0.5f, 0.5f);
    fann_set_training_algorithm(b, FANN_TRAIN_INCREMENTAL);
    fann_set_activation_function_hidden(b, FANN_ELLIOT_SYMMETRIC);
    fann_set_activation_function(b, FANN_LINEAR, 1, 2);
    fann_set_activation_steepness_output(b, 0.9f);
    fann_set_learning_rate(b, 0.5f);
    struct fann_train_data *data = fann_read_train_from_file(path);
    for (int e = 1; e <= 10; e++) {
        if (e == 7)
            fann_set_learning_rate(b, 0.25f);
        printf("B epoch %d mse %.17g\n", e, (double)fann_train_epoch(b, data));
    }
    printf("B test mse %.17g\n", (double)fann_test_data(b, data));
    if (fann_save(b, model) != 0)
        return 1;
    fann_destroy_train(data);
    fann_destroy(a);
    fann_destroy(b);
    return 0;
}
