/* How big one CUDA pass may be, shared by the backend's host API
 * (backend.h), the planner (plan.c) and the kernels (kernels.cuh): the slots
 * a pass takes and the room its parameter block has. Plain C, no CUDA. */
#ifndef WEFT_INFER_CUDA_PASS_H
#define WEFT_INFER_CUDA_PASS_H

#define WEFT_CUDA_MAX_SLOTS  16
#define WEFT_CUDA_STEP_BYTES 4096 /* room reserved for the pass parameters */

#endif /* WEFT_INFER_CUDA_PASS_H */
