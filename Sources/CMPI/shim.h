// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are macros over the addresses of library
// globals, which Swift cannot import; these accessors hand them over as values.
#ifndef BAYESNET_CMPI_SHIM_H
#define BAYESNET_CMPI_SHIM_H

#define OMPI_SKIP_MPICXX 1
#include <mpi.h>

static inline MPI_Comm bn_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype bn_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype bn_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype bn_mpi_int(void) { return MPI_INT; }
static inline MPI_Datatype bn_mpi_char(void) { return MPI_CHAR; }
static inline MPI_Op bn_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op bn_mpi_max(void) { return MPI_MAX; }
static inline MPI_Info bn_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline void *bn_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int bn_mpi_success(void) { return MPI_SUCCESS; }
static inline int bn_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int bn_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }

#endif
