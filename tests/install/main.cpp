// Uses the installed library: a tiny autograd computation with a known answer.
#include <hone/hone.h>

#include <cmath>
#include <iostream>

int main() {
  hone::Tensor w = hone::from_vector<float>({1, 2, 3}).set_requires_grad();
  hone::Tensor loss = (w * w).sum();  // d/dw sum(w^2) = 2w
  loss.backward();
  std::vector<float> g = w.grad().to_vector<float>();
  bool ok = loss.item<float>() == 14.0f && g == std::vector<float>{2, 4, 6};
  try {
    hone::matmul(hone::zeros({2, 3}), hone::zeros({4, 5}));
    ok = false;
  } catch (const hone::Error& e) {
    std::cout << "caught: " << e.what() << "\n";
  }
  std::cout << (ok ? "consumer ok" : "consumer FAILED") << "\n";
  return ok ? 0 : 1;
}
