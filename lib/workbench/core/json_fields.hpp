// Reading fields of Kubernetes objects: the workbench reads them through kube::fields, as `fields::`.
#pragma once

#include "kube/fields.hpp"

namespace wb::workbench {
namespace fields = kube::fields;
}  // namespace wb::workbench
