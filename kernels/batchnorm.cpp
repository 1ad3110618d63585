// batch norm's one validation of its arguments (kernels/batchnorm.h).
#include "kernels/batchnorm.h"

#include "tensor/error.h"

namespace hone::kernels {

void validate_batch_norm(const BatchNormForwardArgs& a) {
  HONE_CHECK(a.n >= 0 && a.c > 0 && a.hw >= 0, "batch_norm: bad sizes n=", a.n, " c=", a.c, " hw=", a.hw);
  HONE_CHECK(!a.use_batch_stats || a.n * a.hw > 0, "batch_norm: batch statistics need at least one element per channel");
  HONE_CHECK(a.use_batch_stats || (a.running_mean && a.running_var),
             "batch_norm: running statistics are needed when not using batch statistics");
  HONE_CHECK(!a.update_running || (a.running_mean && a.running_var), "batch_norm: no running statistics to update");
}

}  // namespace hone::kernels
