// Fine-tuning through the library API, without the command line: the steps `hone finetune
// --strategy partial:layer4` takes, in about sixty lines. Build it against an installed
// hone (find_package(hone), target hone::hone) or in the tree (the test suite builds and
// runs it).
//
//   finetune_example MODEL.onnx DATA_DIR [EPOCHS]
//     MODEL.onnx  an ImageNet ResNet exported by torch.onnx.export (or any hone export)
//     DATA_DIR    one subfolder of JPEG/PNG images per class
#include <hone/hone.h>

#include <iostream>

#include "io/dataset.h"
#include "io/loader.h"

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::cerr << "usage: finetune_example MODEL.onnx DATA_DIR [EPOCHS]\n";
    return 2;
  }
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 3;

  // 1. Data: class folders, a stratified 80/20 split, torchvision's transforms.
  auto all = std::make_shared<hone::io::ImageFolder>(argv[2]);
  auto [train, val] = hone::io::random_split(all, 0.2, /*seed=*/0);
  auto model = hone::io::onnx::import_onnx(argv[1]);
  const auto pre = hone::io::onnx::read_preprocessing(model->model());  // from hone's metadata, if any
  hone::io::TransformOptions eval_tf;
  if (pre.input_size.size() == 2) eval_tf.crop = pre.input_size[0];
  if (pre.resize >= 0) eval_tf.resize = pre.resize;
  if (!pre.mean.empty()) eval_tf.mean = pre.mean, eval_tf.std = pre.std;
  hone::io::TransformOptions train_tf = eval_tf;
  train_tf.train = true;  // RandomResizedCrop + horizontal flip
  hone::io::DataLoader train_loader(train, hone::io::Transform(train_tf), {.batch_size = 8, .seed = 0});
  hone::io::DataLoader val_loader(val, hone::io::Transform(eval_tf), {.batch_size = 8, .shuffle = false});

  // 2. The network: a new head for our classes; everything before the last stage frozen,
  //    with its batch norm on running statistics.
  model->replace_head(all->num_classes());
  const auto stages = model->stages();
  const std::string last_stage = stages.size() > 2 ? stages[stages.size() - 2] : stages.front();
  model->freeze_before(last_stage);
  model->freeze_batchnorm(/*all=*/false);

  // 3. The head learns 10x faster than the stage below it.
  hone::optim::SGD opt({{.params = model->body_parameters(), .name = "body"},
                        {.params = model->head_parameters(), .lr_mult = 10, .name = "head"}},
                       {.lr = 0.001, .momentum = 0.9, .weight_decay = 1e-4});

  for (int epoch = 0; epoch < epochs; ++epoch) {
    model->train();
    train_loader.start_epoch(epoch);
    while (auto batch = train_loader.next()) {
      hone::Tensor loss = hone::cross_entropy((*model)(batch->images), batch->labels);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    hone::NoGradGuard no_grad;
    model->eval();
    val_loader.start_epoch(0);
    double correct = 0;
    while (auto batch = val_loader.next())
      correct += hone::topk_accuracy((*model)(batch->images), batch->labels, 1) * double(batch->labels.size(0));
    std::cout << "epoch " << epoch + 1 << ": val accuracy " << correct / double(val->size()) << " (trained from '"
              << last_stage << "' on)\n";
  }
  hone::io::onnx::export_onnx(*model, "finetuned.onnx",
                              {.preprocessing = {.input_size = {eval_tf.crop, eval_tf.crop}, .resize = eval_tf.resize,
                                                 .mean = eval_tf.mean, .std = eval_tf.std, .class_names = all->classes()}});
  std::cout << "wrote finetuned.onnx\n";
  return 0;
} catch (const hone::Error& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
