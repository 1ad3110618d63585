"""torchvision's ImageFolder + DataLoader on the same folder and transforms as
bench/loader_bench.cpp: images/s for the training transform (RandomResizedCrop 224 +
flip + normalise) and the evaluation transform (Resize 256 + CenterCrop 224), per worker
count. Usage: /usr/bin/python3 bench/torch_loader.py DIR [seconds]"""
import sys
import time

import torch
from torchvision import datasets, transforms

root = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
torch.set_num_threads(1)
norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
tfs = {
    "train": transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                                 transforms.ToTensor(), norm]),
    "eval": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), norm]),
}
for name, tf in tfs.items():
    ds = datasets.ImageFolder(root, tf)
    for workers in (1, 2):
        loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers,
                                             persistent_workers=True, prefetch_factor=4)
        for _ in loader:  # start the workers and warm the page cache
            break
        images, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for x, _ in loader:
                images += x.shape[0]
        rate = images / (time.perf_counter() - start)
        print(f"BM_loader_{name}/{workers} {rate:.1f}")
