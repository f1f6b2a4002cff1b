// SPDX-License-Identifier: GPL-2.0
/*
 * Span PCI driver: an L1 hypervisor's access to a span VM (full nesting).
 *
 * The L0 QEMU's span-pci device relays the L1's control messages to spand,
 * holds the span's guest memory (BAR4) and channel (BAR2) while connected,
 * turns doorbell register writes into spand's doorbell eventfds and raises
 * an MSI-X vector when a peer rings this member's doorbell.  /dev/spanN
 * gives user space (QEMU with -span, through libspan) the same things a
 * co-located member gets from spand's socket: read/write/poll for control
 * messages, mmap for the window and the channel, eventfds for doorbells.
 * The interface is in include/uapi/linux/span_pci.h.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pfn_t.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <uapi/linux/span.h>
#include <uapi/linux/span_pci.h>

/* A peer slot's eventfd: signalling it rings that slot's doorbell. */
struct span_pci_bell {
	struct span_pci *sp;
	struct eventfd_ctx *ctx;
	wait_queue_entry_t wait;
	poll_table pt;
	u32 slot;
};

struct span_pci {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct miscdevice misc;
	char name[16];
	int id;
	struct mutex lock;		/* mailbox, bindings, open */
	wait_queue_head_t rx_wq;
	/*
	 * The device may hold a message or have hung up.  Set by the control
	 * interrupt (raised when the device's queue goes from empty to
	 * non-empty, and on hang-up), at open and while reads find messages;
	 * cleared just before a status read that finds neither.  While it is
	 * clear, poll() and non-blocking reads answer without touching the
	 * registers: each access is a trap to L0, and QEMU's main loop polls
	 * this file on every iteration.
	 */
	bool rx_hint;
	bool busy;			/* opened */
	spinlock_t self_lock;		/* self */
	struct eventfd_ctx *self;	/* own doorbell, signalled by the IRQ */
	struct span_pci_bell *bells[SPAN_MAX_MEMBERS];
	void *buf;			/* SPAN_MSG_MAX bytes, under lock */
};

static DEFINE_IDA(span_pci_ida);

static u32 span_pci_status(struct span_pci *sp)
{
	return readl(sp->regs + SPAN_PCI_REG_STATUS);
}

static void span_pci_rx_hint_set(struct span_pci *sp)
{
	WRITE_ONCE(sp->rx_hint, true);
	wake_up_interruptible(&sp->rx_wq);
}

static irqreturn_t span_pci_control_irq(int irq, void *data)
{
	span_pci_rx_hint_set(data);
	return IRQ_HANDLED;
}

/*
 * SPAN_PCI_ST_RX and SPAN_PCI_ST_HUNG_UP as the device has them, or 0
 * without an access while rx_hint is clear.  The hint is cleared before
 * the status is read: an interrupt after that read sets it again, so no
 * message is missed.  A caller that clears it while another finds a
 * message wakes rx_wq when it sets it back.
 */
static u32 span_pci_rx_state(struct span_pci *sp)
{
	u32 st;

	if (!READ_ONCE(sp->rx_hint))
		return 0;
	WRITE_ONCE(sp->rx_hint, false);
	smp_mb();	/* clear the hint, then read the status */
	st = span_pci_status(sp) & (SPAN_PCI_ST_RX | SPAN_PCI_ST_HUNG_UP);
	if (st)
		span_pci_rx_hint_set(sp);
	return st;
}

static irqreturn_t span_pci_doorbell_irq(int irq, void *data)
{
	struct span_pci *sp = data;

	spin_lock(&sp->self_lock);
	if (sp->self)
		eventfd_signal(sp->self);
	spin_unlock(&sp->self_lock);
	return IRQ_HANDLED;
}

static int span_pci_bell_wakeup(wait_queue_entry_t *wait, unsigned int mode,
				int sync, void *key)
{
	struct span_pci_bell *b = container_of(wait, struct span_pci_bell, wait);
	__poll_t flags = key_to_poll(key);
	u64 cnt;

	if (flags & EPOLLIN) {
		/* Called with the eventfd's wait queue lock held. */
		eventfd_ctx_do_read(b->ctx, &cnt);
		writel(b->slot, b->sp->regs + SPAN_PCI_REG_DOORBELL);
	}
	return 0;
}

static void span_pci_bell_queue(struct file *file, wait_queue_head_t *wqh,
				poll_table *pt)
{
	struct span_pci_bell *b = container_of(pt, struct span_pci_bell, pt);

	add_wait_queue(wqh, &b->wait);
}

static void span_pci_bell_free(struct span_pci_bell *b)
{
	u64 cnt;

	eventfd_ctx_remove_wait_queue(b->ctx, &b->wait, &cnt);
	eventfd_ctx_put(b->ctx);
	kfree(b);
}

static int span_pci_bind_bell(struct span_pci *sp, u32 slot, int fd)
{
	struct span_pci_bell *b;
	struct file *file;
	__poll_t events;
	int ret;

	if (sp->bells[slot]) {
		span_pci_bell_free(sp->bells[slot]);
		sp->bells[slot] = NULL;
	}
	if (fd < 0)
		return 0;
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;
	file = eventfd_fget(fd);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_free;
	}
	b->ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(b->ctx)) {
		ret = PTR_ERR(b->ctx);
		goto err_fput;
	}
	b->sp = sp;
	b->slot = slot;
	init_waitqueue_func_entry(&b->wait, span_pci_bell_wakeup);
	init_poll_funcptr(&b->pt, span_pci_bell_queue);
	events = vfs_poll(file, &b->pt);
	fput(file);
	sp->bells[slot] = b;
	/* Signalled before binding: ring now (the next wakeup consumes it). */
	if (events & EPOLLIN)
		writel(slot, sp->regs + SPAN_PCI_REG_DOORBELL);
	return 0;
err_fput:
	fput(file);
err_free:
	kfree(b);
	return ret;
}

static int span_pci_bind_self(struct span_pci *sp, int fd)
{
	struct eventfd_ctx *ctx = NULL, *old;

	if (fd >= 0) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	spin_lock_irq(&sp->self_lock);
	old = sp->self;
	sp->self = ctx;
	spin_unlock_irq(&sp->self_lock);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}

static void span_pci_unbind_all(struct span_pci *sp)
{
	int i;

	for (i = 0; i < SPAN_MAX_MEMBERS; i++) {
		if (sp->bells[i]) {
			span_pci_bell_free(sp->bells[i]);
			sp->bells[i] = NULL;
		}
	}
	span_pci_bind_self(sp, -1);
}

static int span_pci_open(struct inode *inode, struct file *file)
{
	struct span_pci *sp = container_of(file->private_data,
					   struct span_pci, misc);
	int ret = 0;

	mutex_lock(&sp->lock);
	if (sp->busy)
		ret = -EBUSY;	/* one member per device */
	else
		sp->busy = true;
	mutex_unlock(&sp->lock);
	file->private_data = sp;
	if (!ret)
		span_pci_rx_hint_set(sp);	/* read the status once */
	return ret;
}

static int span_pci_release(struct inode *inode, struct file *file)
{
	struct span_pci *sp = file->private_data;

	mutex_lock(&sp->lock);
	span_pci_unbind_all(sp);
	/* Leave the span: L0 closes the session and detaches the BARs. */
	writel(1, sp->regs + SPAN_PCI_REG_RESET);
	sp->busy = false;
	mutex_unlock(&sp->lock);
	return 0;
}

static ssize_t span_pci_read(struct file *file, char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	struct span_pci *sp = file->private_data;
	u32 n = 0;
	int ret;

	for (;;) {
		if (span_pci_rx_state(sp)) {
			mutex_lock(&sp->lock);
			n = readl(sp->regs + SPAN_PCI_REG_RX_LEN);
			if (n)
				break;
			ret = span_pci_status(sp) & SPAN_PCI_ST_HUNG_UP;
			mutex_unlock(&sp->lock);
			if (ret)
				return 0;	/* spand hung up: end of file */
			/* Another reader took it. */
		}
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible_timeout(sp->rx_wq,
						       READ_ONCE(sp->rx_hint),
						       HZ / 10);
		if (ret < 0)
			return ret;
		/* Re-read the status now and then: a lost MSI must not hang us. */
		if (!ret)
			WRITE_ONCE(sp->rx_hint, true);
	}
	if (n > SPAN_MSG_MAX || n < sizeof(struct span_msg_hdr)) {
		writel(1, sp->regs + SPAN_PCI_REG_RX_ACK);
		mutex_unlock(&sp->lock);
		return -EIO;
	}
	if (len < n) {
		mutex_unlock(&sp->lock);
		return -EMSGSIZE;
	}
	memcpy_fromio(sp->buf, sp->regs + SPAN_PCI_RX_BUF, n);
	writel(1, sp->regs + SPAN_PCI_REG_RX_ACK);
	ret = copy_to_user(ubuf, sp->buf, n) ? -EFAULT : n;
	mutex_unlock(&sp->lock);
	return ret;
}

static ssize_t span_pci_write(struct file *file, const char __user *ubuf,
			      size_t len, loff_t *ppos)
{
	struct span_pci *sp = file->private_data;
	s32 status;

	if (len < sizeof(struct span_msg_hdr) || len > SPAN_MSG_MAX)
		return -EINVAL;
	mutex_lock(&sp->lock);
	if (copy_from_user(sp->buf, ubuf, len)) {
		mutex_unlock(&sp->lock);
		return -EFAULT;
	}
	memcpy_toio(sp->regs + SPAN_PCI_TX_BUF, sp->buf, len);
	writel(len, sp->regs + SPAN_PCI_REG_TX_LEN);
	status = readl(sp->regs + SPAN_PCI_REG_TX_STATUS);
	mutex_unlock(&sp->lock);
	if (status < 0)
		return status;
	return len;
}

static __poll_t span_pci_poll(struct file *file, poll_table *wait)
{
	struct span_pci *sp = file->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;
	u32 st;

	poll_wait(file, &sp->rx_wq, wait);
	st = span_pci_rx_state(sp);
	if (st & SPAN_PCI_ST_RX)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (st & SPAN_PCI_ST_HUNG_UP)
		mask |= EPOLLHUP;
	return mask;
}

/*
 * The window and the channel are RAM in L0 (spand's memfds), so they are
 * mapped write-back: usable by QEMU as guest RAM and by KVM as a memslot
 * (VM_PFNMAP, resolved by KVM's remapped-pfn path).  Pages are inserted on
 * fault, 1 GiB or 2 MiB at a time where alignment allows, so mmap() costs
 * the same for any size and huge mappings reach the L2's page tables.
 * vm_private_data holds the pfn of vm_start.
 */
static vm_fault_t span_pci_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & ~((PAGE_SIZE << order) - 1);
	unsigned long pfn = (unsigned long)vma->vm_private_data +
			    ((addr - vma->vm_start) >> PAGE_SHIFT);

	if (order && (addr < vma->vm_start ||
		      addr + (PAGE_SIZE << order) > vma->vm_end ||
		      pfn & ((1UL << order) - 1)))
		return VM_FAULT_FALLBACK;
	switch (order) {
	case 0:
		return vmf_insert_pfn(vma, vmf->address, pfn);
#ifdef CONFIG_ARCH_SUPPORTS_PMD_PFNMAP
	case PMD_ORDER:
		return vmf_insert_pfn_pmd(vmf, __pfn_to_pfn_t(pfn, PFN_DEV), false);
#endif
#ifdef CONFIG_ARCH_SUPPORTS_PUD_PFNMAP
	case PUD_ORDER:
		return vmf_insert_pfn_pud(vmf, __pfn_to_pfn_t(pfn, PFN_DEV), false);
#endif
	default:
		return VM_FAULT_FALLBACK;
	}
}

static vm_fault_t span_pci_fault(struct vm_fault *vmf)
{
	return span_pci_huge_fault(vmf, 0);
}

static const struct vm_operations_struct span_pci_vm_ops = {
	.fault = span_pci_fault,
#ifdef CONFIG_ARCH_SUPPORTS_HUGE_PFNMAP
	.huge_fault = span_pci_huge_fault,
#endif
};

static int span_pci_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct span_pci *sp = file->private_data;
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u64 size = vma->vm_end - vma->vm_start;
	u64 limit;
	int bar;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;	/* private copies of span memory make no sense */
	if (!(span_pci_status(sp) & SPAN_PCI_ST_CONNECTED))
		return -ENODEV;
	if (off >= SPAN_PCI_MMAP_CHANNEL) {
		bar = SPAN_PCI_BAR_CHANNEL;
		off -= SPAN_PCI_MMAP_CHANNEL;
		limit = readq(sp->regs + SPAN_PCI_REG_CHAN_SIZE);
	} else {
		bar = SPAN_PCI_BAR_WINDOW;
		limit = readq(sp->regs + SPAN_PCI_REG_MEM_SIZE);
	}
	limit = min_t(u64, limit, pci_resource_len(sp->pdev, bar));
	if (off > limit || size > limit - off)
		return -EINVAL;
	vma->vm_private_data =
		(void *)(unsigned long)((pci_resource_start(sp->pdev, bar) + off) >> PAGE_SHIFT);
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &span_pci_vm_ops;
	return 0;
}

/*
 * SEEK_END gives the attached memory size, so that users sizing the file
 * (QEMU's RAM from an fd) see the window as a file of that size.
 */
static loff_t span_pci_llseek(struct file *file, loff_t offset, int whence)
{
	struct span_pci *sp = file->private_data;
	u64 size = 0;

	if (span_pci_status(sp) & SPAN_PCI_ST_CONNECTED)
		size = readq(sp->regs + SPAN_PCI_REG_MEM_SIZE);
	return fixed_size_llseek(file, offset, whence, size);
}

static long span_pci_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	struct span_pci *sp = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct span_pci_eventfd ev;
	struct span_pci_info info;
	u32 max, self;
	long ret;

	switch (cmd) {
	case SPAN_PCI_INFO:
		memset(&info, 0, sizeof(info));
		info.status = span_pci_status(sp);
		info.window_size = pci_resource_len(sp->pdev, SPAN_PCI_BAR_WINDOW);
		info.chan_offset = SPAN_PCI_MMAP_CHANNEL;
		if (info.status & SPAN_PCI_ST_CONNECTED) {
			info.mem_size = readq(sp->regs + SPAN_PCI_REG_MEM_SIZE);
			info.chan_size = readq(sp->regs + SPAN_PCI_REG_CHAN_SIZE);
			info.member_id = readl(sp->regs + SPAN_PCI_REG_MEMBER_ID);
			info.max_members = readl(sp->regs + SPAN_PCI_REG_MAX_MEMBERS);
		}
		return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
	case SPAN_PCI_SET_EVENTFD:
		if (copy_from_user(&ev, uarg, sizeof(ev)))
			return -EFAULT;
		mutex_lock(&sp->lock);
		if (!(span_pci_status(sp) & SPAN_PCI_ST_CONNECTED)) {
			ret = -ENODEV;
			goto out;
		}
		max = readl(sp->regs + SPAN_PCI_REG_MAX_MEMBERS);
		self = readl(sp->regs + SPAN_PCI_REG_MEMBER_ID);
		if (ev.slot >= min_t(u32, max, SPAN_MAX_MEMBERS)) {
			ret = -EINVAL;
			goto out;
		}
		if (ev.slot == self)
			ret = span_pci_bind_self(sp, ev.fd);
		else
			ret = span_pci_bind_bell(sp, ev.slot, ev.fd);
out:
		mutex_unlock(&sp->lock);
		return ret;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations span_pci_fops = {
	.owner = THIS_MODULE,
	.open = span_pci_open,
	.release = span_pci_release,
	.read = span_pci_read,
	.write = span_pci_write,
	.poll = span_pci_poll,
	.mmap = span_pci_mmap,
	.get_unmapped_area = thp_get_unmapped_area,	/* 2 MiB aligned */
	.unlocked_ioctl = span_pci_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = span_pci_llseek,
};

static int span_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct span_pci *sp;
	int ret;

	sp = devm_kzalloc(dev, sizeof(*sp), GFP_KERNEL);
	if (!sp)
		return -ENOMEM;
	sp->pdev = pdev;
	mutex_init(&sp->lock);
	spin_lock_init(&sp->self_lock);
	init_waitqueue_head(&sp->rx_wq);
	sp->buf = devm_kzalloc(dev, SPAN_MSG_MAX, GFP_KERNEL);
	if (!sp->buf)
		return -ENOMEM;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(SPAN_PCI_BAR_REGS), "span-pci");
	if (ret)
		return ret;
	sp->regs = pcim_iomap_table(pdev)[SPAN_PCI_BAR_REGS];
	if (readl(sp->regs + SPAN_PCI_REG_MAGIC) != SPAN_PCI_MAGIC ||
	    readl(sp->regs + SPAN_PCI_REG_VERSION) != SPAN_PCI_VERSION) {
		dev_err(dev, "not a span-pci device of version %d\n",
			SPAN_PCI_VERSION);
		return -ENODEV;
	}
	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, SPAN_PCI_NR_VECTORS,
				    SPAN_PCI_NR_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;

	sp->id = ida_alloc(&span_pci_ida, GFP_KERNEL);
	if (sp->id < 0)
		return sp->id;
	snprintf(sp->name, sizeof(sp->name), "span%d", sp->id);
	ret = devm_request_irq(dev, pci_irq_vector(pdev, SPAN_PCI_VEC_CONTROL),
			       span_pci_control_irq, 0, sp->name, sp);
	if (ret)
		goto err_ida;
	ret = devm_request_irq(dev, pci_irq_vector(pdev, SPAN_PCI_VEC_DOORBELL),
			       span_pci_doorbell_irq, 0, sp->name, sp);
	if (ret)
		goto err_ida;

	sp->misc.minor = MISC_DYNAMIC_MINOR;
	sp->misc.name = sp->name;
	sp->misc.fops = &span_pci_fops;
	sp->misc.parent = dev;
	sp->misc.mode = 0600;
	ret = misc_register(&sp->misc);
	if (ret)
		goto err_ida;
	pci_set_drvdata(pdev, sp);
	dev_info(dev, "/dev/%s: window %llu MiB\n", sp->name,
		 (unsigned long long)pci_resource_len(pdev, SPAN_PCI_BAR_WINDOW) >> 20);
	return 0;
err_ida:
	ida_free(&span_pci_ida, sp->id);
	return ret;
}

static void span_pci_remove(struct pci_dev *pdev)
{
	struct span_pci *sp = pci_get_drvdata(pdev);

	misc_deregister(&sp->misc);
	writel(1, sp->regs + SPAN_PCI_REG_RESET);
	ida_free(&span_pci_ida, sp->id);
}

static const struct pci_device_id span_pci_ids[] = {
	{ PCI_DEVICE(SPAN_PCI_VENDOR_ID, SPAN_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, span_pci_ids);

static struct pci_driver span_pci_driver = {
	.name = "span-pci",
	.id_table = span_pci_ids,
	.probe = span_pci_probe,
	.remove = span_pci_remove,
};
module_pci_driver(span_pci_driver);

MODULE_DESCRIPTION("Span PCI device: span VM memory, channel and doorbells for L1 hypervisors");
MODULE_LICENSE("GPL");
