/* Times MPI_Allreduce (sum, in place) of a float32 buffer as bayesnet's training step does it, with a barrier
 * before each call so that the figure is the transfer alone, not waiting for a slower rank.
 *
 *   mpicc -O2 -o allreduce bench/mpi/allreduce.c
 *   mpirun -np 2 ./allreduce 1091096 200      # LeNet-5's gradients (+ 4 figures), 200 calls
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long count = argc > 1 ? atol(argv[1]) : 1091096;
    int calls = argc > 2 ? atoi(argv[2]) : 200;
    float *buffer = malloc(sizeof(float) * (size_t)count);
    for (long i = 0; i < count; i++) buffer[i] = (float)(i % 1000) * 1e-3f;
    double total = 0, best = 1e30;
    for (int k = 0; k < calls + 10; k++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t = MPI_Wtime() - start;
        if (k >= 10) { total += t; if (t < best) best = t; }   /* the first calls set up the transport */
    }
    double mean = total / calls, slowest;
    MPI_Reduce(&mean, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        double bytes = 4.0 * (double)count;
        printf("ranks %d  bytes %.0f  mean %.3f ms  best %.3f ms  ring bus bandwidth %.2f GB/s\n", size, bytes,
               slowest * 1e3, best * 1e3, 2.0 * (size - 1) / size * bytes / slowest / 1e9);
    }
    free(buffer);
    MPI_Finalize();
    return 0;
}
